#!/usr/bin/env node
// Runs this package's generators through yeoman-environment, without a global `yo`: headless, in CI,
// in containers and as root (`yo` drops root privileges and then cannot write).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { addEnvironmentOptions, prepareGeneratorCommand } from 'yeoman-environment';

const GENERATORS = {
  app: 'a new Fastify 5 + TypeScript service in ./<service-name>',
  messaging: 'the NATS JetStream event system, added to the service in the current folder',
  event: 'a typed event (schema, handler, docs, tests) added to the service in the current folder',
} as const;

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
  const generatorName = argv[2] === 'messaging' || argv[2] === 'event' ? argv[2] : 'app';
  if (generatorName === 'event' && !process.stdin.isTTY && !argv.includes('--help') && !argv.includes('-h')) {
    const missing = eventAnswersMissing(argv.slice(3));
    if (missing) throw new Error(`no terminal to ask for ${missing}: ${EVENT_USAGE}`);
  }
  if (generatorName === 'app' && !process.stdin.isTTY && !argv.includes('--defaults')) {
    // Nobody can answer a prompt: take the defaults for whatever the options leave open.
    argv = [...argv, '--defaults'];
  }

  const program = new Command('saasquatch')
    .description('Generate Fastify microservices with a NATS event system (generator-saasquatch)')
    .version(packageJson.version)
    .showHelpAfterError()
    .enablePositionalOptions()
    .addHelpText('after', '\nWithout a command, app runs. `saasquatch <command> --help` lists the options of each.');

  for (const [name, description] of Object.entries(GENERATORS)) {
    // A YeomanCommand: it turns the generator's options into flags, with a --no-<flag> for each boolean.
    const command = addEnvironmentOptions().name(name).description(description);
    program.addCommand(command, { isDefault: name === 'app' });
    await prepareGeneratorCommand({
      command,
      resolved: fileURLToPath(new URL(`../generators/${name}/index.js`, import.meta.url)),
      namespace: `saasquatch:${name}`,
    });
  }
  await program.parseAsync(argv);
}

main(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`saasquatch: ${message.split('\n')[0]}`);
  process.exitCode = 1;
});
