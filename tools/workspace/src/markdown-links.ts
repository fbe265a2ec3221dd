import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** One relative link of a Markdown file that does not lead to a file or folder inside the repository. */
export interface DeadLink {
  /** The Markdown file, relative to the root. */
  file: string;
  line: number;
  target: string;
  reason: 'missing' | 'outside the repository';
}

/** Markdown files git would commit: tracked ones and untracked ones that are not ignored. */
export function markdownFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z', '--', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => fs.existsSync(path.join(root, f))).sort();
}

// Inline links and images `[text](target "title")`, and reference definitions `[label]: target`.
const INLINE_LINK = /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const REFERENCE_LINK = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/;
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:|\/\/|#)/i;

/** The relative links of one Markdown text (outside fenced code blocks and inline code), with line numbers. */
export function relativeLinks(markdown: string): { line: number; target: string }[] {
  const links: { line: number; target: string }[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker) {
      if (fence === undefined) fence = marker[0];
      else if (marker[0] === fence) fence = undefined;
      return;
    }
    if (fence !== undefined) return;
    const prose = text.replace(/`[^`]*`/g, '');
    const targets = [...prose.matchAll(INLINE_LINK)].map((m) => m[1]!);
    const reference = REFERENCE_LINK.exec(prose)?.[1];
    if (reference) targets.push(reference);
    for (const target of targets) if (!EXTERNAL.test(target)) links.push({ line: i + 1, target });
  });
  return links;
}

/** Every relative link of the repository's Markdown files that leads nowhere, or out of the repository. */
export function deadMarkdownLinks(root: string): DeadLink[] {
  const dead: DeadLink[] = [];
  for (const file of markdownFiles(root)) {
    const dir = path.dirname(path.join(root, file));
    for (const { line, target } of relativeLinks(fs.readFileSync(path.join(root, file), 'utf8'))) {
      const withoutFragment = decodeURIComponent(target.replace(/[#?].*$/, ''));
      if (!withoutFragment) continue;
      const resolved = path.resolve(withoutFragment.startsWith('/') ? root : dir, withoutFragment.replace(/^\//, ''));
      const relative = path.relative(root, resolved);
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        dead.push({ file, line, target, reason: 'outside the repository' });
      } else if (!fs.existsSync(resolved)) {
        dead.push({ file, line, target, reason: 'missing' });
      }
    }
  }
  return dead;
}
