/** Runs one command's registration in-process, as commander parses it: its stdout and exit code (stderr is silenced). */
import { Command } from 'commander';
import { vi } from 'vitest';

export async function viaCommander(register: (program: Command) => void, args: string[]): Promise<{ stdout: string; code: number | undefined }> {
  const program = new Command('perflab').exitOverride();
  register(program);
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const savedCode = process.exitCode;
  try {
    process.exitCode = undefined;
    await program.parseAsync(args, { from: 'user' });
    return { stdout, code: typeof process.exitCode === 'number' ? process.exitCode : undefined };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = savedCode;
  }
}
