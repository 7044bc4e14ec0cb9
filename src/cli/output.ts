/**
 * Output formats behind one interface: with --json exactly one JSON document on
 * stdout and nothing else; otherwise the human rendering.
 */
export function emit(json: boolean, doc: object, human: () => string): void {
  if (json) process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
  else process.stdout.write(human() + '\n');
}
