/**
 * src/cli: the `paddock` command. Parses flags, calls the layers below, and turns their
 * errors into one line and an exit code (src/errors.ts). Owns no logic of its own.
 */
import { Command, CommanderError } from 'commander';
import { paddockVersion } from '../../core/version.ts';
import { cliErrorOf } from '../errors.ts';
import { configureLogging } from '../log.ts';
import { registerRepoCommands } from './repo-commands.ts';
import { registerServe } from './serve.ts';
import { registerSettings } from './settings.ts';
import { registerStatus } from './status.ts';
import { registerSynth } from './synth.ts';
import { registerVerify } from './verify.ts';
import { registerWatch } from './watch.ts';

/** The commands that run until stopped: they log each request and commit (level info). */
const LONG_RUNNING = new Set(['serve', 'watch', 'up']);

export function buildProgram(): Command {
  const program = new Command('paddock')
    .description('Kubernetes environments as TypeScript, synthesized into an Argo CD manifests repo; git is the only write path')
    .version(paddockVersion() ?? 'unknown', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .option('--log-format <format>', 'json or text (env PADDOCK_LOG_FORMAT; default text on a terminal, json elsewhere); the level is PADDOCK_LOG_LEVEL (default info for serve, watch and up, warn otherwise)')
    .hook('preAction', (root, command) => {
      configureLogging({ format: root.opts().logFormat, defaultLevel: LONG_RUNNING.has(command.name()) ? 'info' : undefined });
    })
    .exitOverride();
  registerSynth(program);
  registerRepoCommands(program);
  registerServe(program);
  registerSettings(program);
  registerStatus(program);
  registerWatch(program);
  registerVerify(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const { line, exitCode } = cliErrorOf(e);
    console.error(line);
    return exitCode;
  }
}
