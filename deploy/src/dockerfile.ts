/**
 * A small Dockerfile reader for the offline image checks: instructions with their arguments (continuation
 * lines joined, comments dropped), grouped into build stages, and the sources of COPY/ADD. Plus a
 * `.dockerignore` matcher (`*`, `**`, `?` and `!` exceptions, as Docker reads them).
 *
 * @module
 */

/** One instruction, e.g. `{ keyword: 'COPY', args: '--from=build /stage ./', line: 12 }`. */
export interface Instruction {
  keyword: string;
  args: string;
  /** 1-based line of the instruction's first line. */
  line: number;
}

/** One build stage: its FROM, its name (`AS name`) and its instructions after FROM. */
export interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** A COPY or ADD: its flags (`--from`, `--chown`, …), sources and destination. */
export interface CopySpec {
  flags: Record<string, string>;
  sources: string[];
  destination: string;
}

/** Parses a Dockerfile into instructions (the global ARGs before the first FROM included). */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  let current: Instruction | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (current === undefined && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (current !== undefined && trimmed.startsWith('#')) continue; // a comment inside a continued instruction
    const continues = trimmed.endsWith('\\');
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed;
    if (current === undefined) {
      const match = /^(\S+)\s*(.*)$/.exec(body);
      if (!match) continue;
      current = { keyword: match[1]!.toUpperCase(), args: match[2]!, line: i + 1 };
    } else if (body !== '') {
      current.args = current.args === '' ? body : `${current.args} ${body}`;
    }
    if (!continues) {
      instructions.push(current);
      current = undefined;
    }
  }
  if (current !== undefined) instructions.push(current);
  return instructions;
}

/** Groups instructions into stages (what comes before the first FROM is dropped: global ARGs). */
export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(instruction.args);
      if (!match) throw new Error(`stagesOf: cannot read FROM ${instruction.args} (line ${instruction.line})`);
      stages.push({ from: match[1]!, ...(match[2] ? { name: match[2] } : {}), instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push(instruction);
    }
  }
  return stages;
}

/** Reads the arguments of a COPY or ADD, in shell form or JSON-array form. */
export function parseCopy(args: string): CopySpec {
  const flags: Record<string, string> = {};
  let rest = args.trim();
  for (;;) {
    const match = /^--([a-z-]+)(?:=(\S*))?\s+/.exec(rest);
    if (!match) break;
    flags[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  const parts = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/).filter(Boolean);
  if (parts.length < 2) throw new Error(`parseCopy: need at least one source and a destination: ${args}`);
  return { flags, sources: parts.slice(0, -1), destination: parts[parts.length - 1]! };
}

/** Reads the KEY=VALUE pairs of an ENV or ARG (`ARG NAME` alone has no value). */
export function parseAssignments(args: string): Array<{ name: string; value: string | undefined }> {
  const out: Array<{ name: string; value: string | undefined }> = [];
  const pattern = /([A-Za-z_][A-Za-z0-9_]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/g;
  for (const match of args.matchAll(pattern)) {
    const value = match[2];
    out.push({ name: match[1]!, value: value === undefined ? undefined : value.replace(/^(["'])(.*)\1$/, '$2') });
  }
  return out;
}

/** A `.dockerignore` as a predicate over paths relative to the build context (forward slashes). */
export function dockerignoreMatcher(text: string): (relativePath: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exception = line.startsWith('!');
      const pattern = (exception ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      return { exception, regex: globToRegExp(pattern) };
    });
  return (relativePath) => {
    const parts = relativePath.split('/');
    let ignored = false;
    // A path is excluded when it or one of its parent directories matches (the last matching rule wins).
    for (let depth = 1; depth <= parts.length; depth++) {
      const prefix = parts.slice(0, depth).join('/');
      for (const rule of rules) if (rule.regex.test(prefix)) ignored = !rule.exception;
    }
    return ignored;
  };
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
