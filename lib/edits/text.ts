/** The line ending a file uses: CRLF when any line ends with it, else LF. */
export function lineEndingOf(content: string): string {
  return content.includes('\r\n') ? '\r\n' : '\n';
}

/** The whitespace a line starts with. */
function indentOf(line: string): string {
  return line.slice(0, line.length - line.trimStart().length);
}

/**
 * Inserts `lines` before the first line containing `needle`, indented like it, once:
 * lines already present anywhere in `content` are not added again. `undefined` when there is no needle.
 */
export function insertBeforeNeedle(content: string, needle: string, lines: readonly string[]): string | undefined {
  const eol = lineEndingOf(content);
  const all = content.split(eol);
  const at = all.findIndex((line) => line.includes(needle));
  if (at === -1) return undefined;
  const indent = indentOf(all[at]);
  const missing = lines.filter((line) => !content.includes(line.trim()));
  if (missing.length === 0) return content;
  all.splice(at, 0, ...missing.map((line) => indent + line.trim()));
  return all.join(eol);
}

/**
 * Inserts `line` after the last line matching `matching` in the block that starts at the line containing
 * `blockStart` and ends at the next line indented no deeper than that one (a test's `it(...)` for example),
 * indented like the line it follows. `undefined` when there is no such block or line; unchanged when the
 * block already holds `line`.
 */
export function insertInBlock(content: string, blockStart: string, matching: RegExp, line: string): string | undefined {
  const eol = lineEndingOf(content);
  const all = content.split(eol);
  const start = all.findIndex((text) => text.includes(blockStart));
  if (start === -1) return undefined;
  const depth = indentOf(all[start]).length;
  let end = start + 1;
  while (end < all.length && (all[end].trim() === '' || indentOf(all[end]).length > depth)) end += 1;
  const block = all.slice(start + 1, end);
  if (block.some((text) => text.trim() === line.trim())) return content;
  const last = block.map((text) => matching.test(text)).lastIndexOf(true);
  if (last === -1) return undefined;
  const indent = indentOf(block[last]);
  all.splice(start + 1 + last + 1, 0, indent + line.trim());
  return all.join(eol);
}

/**
 * Appends `block` once: not when `content` already has a line starting with `marker`. One blank line
 * separates it from what was there; the file's line ending is kept and it ends with one.
 */
export function appendOnce(content: string, marker: string, block: string): string {
  const eol = lineEndingOf(content);
  if (content.split(/\r?\n/).some((line) => line.startsWith(marker))) return content;
  const body = block.replace(/\r?\n/g, eol).replace(/(\r?\n)*$/, eol);
  const existing = content.replace(/(\r?\n)*$/, '');
  return existing === '' ? body : `${existing}${eol}${eol}${body}`;
}
