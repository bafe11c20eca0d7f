import { lineEndingOf } from './text.js';

/** Where a statement at the top of a module starts and ends (offsets into the source). */
interface ImportStatement {
  end: number;
  specifier: string;
  typeOnly: boolean;
}

const IMPORT_START = /^import(?=[\s{*'"])/;

/** Skips whitespace and comments from `at`; returns the offset of the next token. */
function skipTrivia(source: string, at: number): number {
  let pos = at;
  for (;;) {
    while (pos < source.length && /\s/.test(source[pos])) pos += 1;
    if (source.startsWith('//', pos)) {
      const newline = source.indexOf('\n', pos);
      pos = newline === -1 ? source.length : newline;
    } else if (source.startsWith('/*', pos)) {
      const close = source.indexOf('*/', pos + 2);
      pos = close === -1 ? source.length : close + 2;
    } else {
      return pos;
    }
  }
}

/** The offset just after the string literal that starts at `at` (a quote). */
function stringEnd(source: string, at: number): number {
  const quote = source[at];
  let pos = at + 1;
  while (pos < source.length && source[pos] !== quote && source[pos] !== '\n') pos += source[pos] === '\\' ? 2 : 1;
  return pos + 1;
}

/** Spaces and tabs only: a statement ends at a newline when it has no semicolon. */
function skipSpaces(source: string, at: number): number {
  let pos = at;
  while (source[pos] === ' ' || source[pos] === '\t') pos += 1;
  return pos;
}

/**
 * Reads the import statement starting at `at`: `import x from 'y'`, `import type { a,\n b } from 'y'`,
 * `import 'y'`, `import x = require('y')`, with or without a semicolon, with `with { … }` attributes.
 */
function readImport(source: string, at: number): ImportStatement {
  let pos = at + 'import'.length;
  for (;;) {
    pos = skipTrivia(source, pos);
    const char = source.at(pos);
    if (char === undefined) return { end: source.length, specifier: '', typeOnly: false };
    if (char === ';') return { end: pos + 1, specifier: '', typeOnly: false };
    if (char !== "'" && char !== '"') {
      pos += 1;
      continue;
    }
    const end = stringEnd(source, pos);
    const specifier = source.slice(pos + 1, end - 1);
    let after = skipSpaces(source, end);
    if (source[after] === ')') after = skipSpaces(source, after + 1);
    const attributes = /^(?:with|assert)\s*\{/.exec(source.slice(after));
    if (attributes) after = skipSpaces(source, source.indexOf('}', after) + 1);
    const terminated = source[after] === ';';
    const atLineEnd = after >= source.length || source[after] === '\n' || source[after] === '\r' || source.startsWith('//', after);
    if (terminated || atLineEnd) {
      const head = source.slice(at, pos);
      return { end: terminated ? after + 1 : after, specifier, typeOnly: /^import\s+type[\s{]/.test(head) };
    }
    // A quoted name inside `{ "a-b" as ab }`: the specifier comes later.
    pos = end;
  }
}

/** The import statements at the top of a module, before its first other statement, and where that statement starts. */
function topImports(source: string): { imports: ImportStatement[]; bodyStart: number } {
  const imports: ImportStatement[] = [];
  let pos = source.startsWith('#!') ? source.indexOf('\n') + 1 || source.length : 0;
  for (;;) {
    pos = skipTrivia(source, pos);
    if (pos >= source.length) return { imports, bodyStart: source.length };
    const rest = source.slice(pos);
    if (IMPORT_START.test(rest)) {
      const statement = readImport(source, pos);
      imports.push(statement);
      pos = statement.end;
    } else if (/^['"]use strict['"];?/.test(rest)) {
      pos = stringEnd(source, pos) + (source[stringEnd(source, pos)] === ';' ? 1 : 0);
    } else {
      return { imports, bodyStart: pos };
    }
  }
}

/** The module specifier of one import line we add (`import x from './y';` → `./y`). */
function specifierOf(line: string): string {
  return /['"]([^'"]+)['"]\s*;?\s*$/.exec(line)?.[1] ?? line;
}

/**
 * Adds `lines` (one import statement each) after the last import statement at the top of `content`, whatever
 * its shape (multi-line, type-only, side-effect, no semicolon, a comment after it), or before the first
 * statement when there is none. A module already imported by a value import is not imported again. Keeps
 * the file's line ending, and its lack of a final one.
 */
export function addImports(content: string, lines: readonly string[]): string {
  const { imports, bodyStart } = topImports(content);
  const present = new Set(imports.filter((statement) => !statement.typeOnly).map((statement) => statement.specifier));
  const missing = lines.filter((line) => !present.has(specifierOf(line)));
  if (missing.length === 0) return content;
  const eol = lineEndingOf(content);
  const block = missing.join(eol);
  const last = imports.at(-1);
  if (!last) return content.slice(0, bodyStart) + block + eol + (bodyStart === content.length ? '' : eol) + content.slice(bodyStart);
  const newline = content.indexOf('\n', last.end);
  if (newline === -1) return `${content}${eol}${block}`;
  return content.slice(0, newline + 1) + block + eol + content.slice(newline + 1);
}
