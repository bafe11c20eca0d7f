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

async function main(argv: string[]): Promise<void> {
  const conflict = conflictingFlag(argv.slice(2));
  if (conflict) throw new Error(conflict);
  const generatorName = argv[2] === 'messaging' ? 'messaging' : 'app';
  if (generatorName === 'app' && !process.stdin.isTTY && !argv.includes('--defaults')) {
    // Nobody can answer a prompt: take the defaults for whatever the options leave open.
    argv = [...argv, '--defaults'];
  }

  const program = new Command('saasquatch')
    .description('Generate Fastify microservices with a NATS event system (generator-saasquatch)')
    .version(packageJson.version)
    .showHelpAfterError()
    .enablePositionalOptions()
    .addHelpText('after', '\nWithout a command, app runs. `saasquatch app --help` and `saasquatch messaging --help` list their options.');

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
