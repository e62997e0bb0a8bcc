/**
 * src/cli: the `paddock` command. Parses flags, calls the layers below, and turns their
 * errors into one line and an exit code (src/errors.ts). Owns no logic of its own.
 */
import { Command, CommanderError } from 'commander';
import { paddockVersion } from '../../core/version.ts';
import { cliErrorOf } from '../errors.ts';
import { configureLogging, flushLogs } from '../log.ts';

/** The commands that run until stopped: they log each request and commit (level info). */
const LONG_RUNNING = new Set(['serve', 'watch', 'up']);

type Register = (program: Command) => void;
/**
 * Each command's module, loaded only when it runs (a command of its own in the bundle), so that
 * `paddock status` or `synth` does not load the sidecar's server or the Kubernetes client.
 * Help and unknown commands load them all.
 */
const MODULES: ReadonlyArray<{ readonly commands: readonly string[]; readonly load: () => Promise<Register> }> = [
  { commands: ['synth'], load: async () => (await import('./synth.ts')).registerSynth },
  { commands: ['push', 'demolish', 'revive'], load: async () => (await import('./repo-commands.ts')).registerRepoCommands },
  { commands: ['serve'], load: async () => (await import('./serve.ts')).registerServe },
  { commands: ['settings'], load: async () => (await import('./settings.ts')).registerSettings },
  { commands: ['status'], load: async () => (await import('./status.ts')).registerStatus },
  { commands: ['watch', 'up'], load: async () => (await import('./watch.ts')).registerWatch },
  { commands: ['verify'], load: async () => (await import('./verify.ts')).registerVerify },
];

/** The command `argv` names (its first word that is not an option or an option's value), if any. */
function commandOf(argv: readonly string[]): string | undefined {
  const words = argv.slice(2);
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '--log-format') i++;
    else if (!words[i].startsWith('-')) return words[i];
  }
  return undefined;
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('paddock')
    .description('Kubernetes environments as TypeScript, synthesized into an Argo CD manifests repo; git is the only write path')
    .version(paddockVersion() ?? 'unknown', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .option('--log-format <format>', 'json or text (env PADDOCK_LOG_FORMAT; default text on a terminal, json elsewhere); the level is PADDOCK_LOG_LEVEL (default info for serve, watch and up, warn otherwise)')
    .hook('preAction', (root, command) => {
      configureLogging({ format: root.opts().logFormat, defaultLevel: LONG_RUNNING.has(command.name()) ? 'info' : undefined });
    })
    .exitOverride();
  const name = commandOf(argv);
  const one = MODULES.find((m) => name !== undefined && m.commands.includes(name));
  const version = argv.slice(2).some((w) => w === '-V' || w === '--version');
  for (const m of one ? [one] : version ? [] : MODULES) (await m.load())(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync([...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    const { line, exitCode } = cliErrorOf(e);
    flushLogs();
    console.error(line);
    return exitCode;
  }
}
