// Text edits of the service's own files that the event generator makes; each one is made once.

/**
 * Inserts `block` on the lines before the first line holding `needle`, as it is (the block carries its own
 * indentation). `undefined` when there is no needle.
 */
export function insertBlockBefore(content: string, needle: string, block: string): string | undefined {
  const at = content.indexOf(needle);
  if (at === -1) return undefined;
  const lineStart = content.lastIndexOf('\n', at) + 1;
  return `${content.slice(0, lineStart)}${block.endsWith('\n') ? block : `${block}\n`}${content.slice(lineStart)}`;
}

const SUBSCRIBER_REGISTRATION = /^([ \t]*)await (\w+)\.register\(natsSubscriber(?:,[^\n]*)?\);[^\n]*$/m;

/**
 * Adds `<call>(<instance>);` on the line after `await <instance>.register(natsSubscriber…);`, indented like it,
 * unless `<call>(` is there already. `undefined` when no such registration is found.
 */
export function callAfterSubscriber(app: string, call: string): string | undefined {
  if (app.includes(`${call}(`)) return app;
  const match = SUBSCRIBER_REGISTRATION.exec(app);
  if (!match) return undefined;
  const [line, indent, instance] = match;
  const end = match.index + line.length;
  return `${app.slice(0, end)}\n${indent}${call}(${instance});${app.slice(end)}`;
}
