/** Commands shown to an operator: each word quoted so that a POSIX shell reads it back unchanged. Pure. */

/** A word of a command as a POSIX shell would need it to read it back unchanged. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A command line for display: each word quoted for the shell. */
export function commandLine(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}
