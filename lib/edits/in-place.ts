/** The part of mem-fs-editor's file record this module reads and sets. */
interface EditorFile {
  /** Set once anything in this run has written or deleted the file. */
  state?: string;
  /** How the environment's conflicter treats the file at commit; 'force' writes it without asking. */
  conflicter?: string;
}

/**
 * Runs `edit`, which changes a file of the user's service in place. When nothing else in this run had
 * touched the file, the change is only ours (an insertion we guard against repeating), so it is written
 * without the overwrite prompt: a headless run must not stop on a question about its own edit. A file
 * some template already rewrote keeps the usual check, so a user's own changes are never overwritten silently.
 */
export function editInPlace(fs: { store: { get(path: string): unknown } }, path: string, edit: () => void): void {
  const untouched = (fs.store.get(path) as EditorFile).state === undefined;
  edit();
  const file = fs.store.get(path) as EditorFile;
  if (untouched && file.state !== undefined) file.conflicter = 'force';
}
