#!/usr/bin/env node
// Runs this package's generators through yeoman-environment, without a global `yo`: headless, in CI,
// in containers and as root (`yo` drops root privileges and then cannot write).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { QueuedAdapter } from '@yeoman/adapter';
import { Command, type Option } from 'commander';
import { addEnvironmentOptions, createEnv } from 'yeoman-environment';
import type Generator from 'yeoman-generator';
import { HeadlessAdapter } from './headless-adapter.js';

const GENERATORS = ['app', 'messaging', 'event'] as const;
type YeomanCommand = ReturnType<typeof addEnvironmentOptions>;
/** Yeoman's own options worth a line in the overview; `saasquatch <command> --help` lists the rest. */
const ENVIRONMENT_OPTIONS_SHOWN = ['--skip-install', '--force'];

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** `--database --no-database` would silently keep the last one; refuse it instead. */
export function conflictingFlag(argv: readonly string[]): string | undefined {
  for (const arg of argv) {
    const negated = /^--no-([a-z-]+)$/.exec(arg)?.[1];
    if (negated && argv.some((other) => other === `--${negated}` || other.startsWith(`--${negated}=`))) {
      return `--${negated} and --no-${negated} conflict; give one of them`;
    }
  }
  return undefined;
}

/**
 * A command that runs one generator, with the generator's options as flags (and a --no-<flag> for each
 * boolean). Like yeoman-environment's prepareGeneratorCommand, but with an adapter of our choice.
 */
async function generatorCommand(name: (typeof GENERATORS)[number], headless: boolean): Promise<YeomanCommand> {
  const environment = createEnv(headless ? { adapter: new QueuedAdapter({ adapter: new HeadlessAdapter() }) } : {});
  const meta = environment.register(fileURLToPath(new URL(`../generators/${name}/index.js`, import.meta.url)), {
    namespace: `saasquatch:${name}`,
  });
  const help = await meta.instantiateHelp<Generator>();
  const command = addEnvironmentOptions().name(name).description(help.description);
  command.env = environment;
  command.registerGenerator(help);
  command.action(async function (this: Command) {
    await environment.runGenerator(await meta.instantiate(this.args, this.opts()));
  });
  return command;
}

/** Root help: every command with the options users pass (its generator's own, and --skip-install, --force). */
function commandsAndOptions(program: Command, generatorOptions: Map<string, Set<string>>): string {
  const help = program.createHelp();
  const rows: [string, string][] = [];
  for (const command of program.commands) {
    rows.push([`${command.name()}${command.name() === 'app' ? ' (default)' : ''}`, command.description()]);
    const ownOptions = generatorOptions.get(command.name()) ?? new Set<string>();
    const shown = (option: Option) => ownOptions.has(option.long ?? '') || ENVIRONMENT_OPTIONS_SHOWN.includes(option.long ?? '');
    for (const option of help.visibleOptions(command).filter(shown)) rows.push([`  ${help.optionTerm(option)}`, option.description]);
  }
  const width = Math.max(...rows.map(([term]) => term.length));
  return `\nCommands and their options:\n${rows.map(([term, text]) => `  ${term.padEnd(width)}  ${text}`).join('\n')}\n`;
}

const EVENT_USAGE = 'saasquatch event <type> --field <name:type> [--field …]';

/** What `saasquatch event` would have to ask for, or `undefined` when the command line gives it all. */
export function eventAnswersMissing(args: readonly string[]): string | undefined {
  const positional = args.filter((arg, index) => !arg.startsWith('-') && !args[index - 1]?.startsWith('--field'));
  if (positional.length === 0) return 'the event type';
  if (!args.some((arg) => arg === '--field' || arg.startsWith('--field='))) return 'its fields';
  return undefined;
}

async function main(argv: string[]): Promise<void> {
  const conflict = conflictingFlag(argv.slice(2));
  if (conflict) throw new Error(conflict);
  const headless = !process.stdin.isTTY;
  const generatorName = argv[2] === 'messaging' || argv[2] === 'event' ? argv[2] : 'app';
  if (generatorName === 'event' && headless && !argv.includes('--help') && !argv.includes('-h')) {
    const missing = eventAnswersMissing(argv.slice(3));
    if (missing) throw new Error(`no terminal to ask for ${missing}: ${EVENT_USAGE}`);
  }
  if (generatorName === 'app' && headless && !argv.includes('--defaults')) {
    // Nobody can answer a prompt: take the defaults for whatever the options leave open.
    argv = [...argv, '--defaults'];
  }

  const program = new Command('saasquatch')
    .description('Generate Fastify microservices with a NATS event system (generator-saasquatch)')
    .version(packageJson.version)
    .showHelpAfterError()
    .enablePositionalOptions();
  const generatorOptions = new Map<string, Set<string>>();
  for (const name of GENERATORS) {
    const environmentOptions = new Set(addEnvironmentOptions().options.map((option: Option) => option.long));
    const command = await generatorCommand(name, headless);
    generatorOptions.set(
      name,
      new Set(command.options.map((option: Option) => option.long ?? '').filter((long: string) => !environmentOptions.has(long))),
    );
    program.addCommand(command, { isDefault: name === 'app' });
  }
  program.addHelpText('after', () => commandsAndOptions(program, generatorOptions));
  await program.parseAsync(argv);
}

main(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`saasquatch: ${message.split('\n')[0]}`);
  process.exitCode = 1;
});
