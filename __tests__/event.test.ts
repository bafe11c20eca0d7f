import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import helpers from 'yeoman-test';
import { describe, expect, it } from 'vitest';
import { parseField } from '../generators/event/definition.js';
import { callAfterSubscriber, insertBlockBefore } from '../generators/event/edits.js';
import { EVENT_GENERATOR, MESSAGING_GENERATOR, keptFolder, readTree, runApp, runEvent } from './support/generators.js';

const COMPOSER = fileURLToPath(new URL('./fixtures/generator-composer/index.js', import.meta.url));
const ORDER_FIELDS = ['orderId:uuid', 'total:number', 'note:string?'];

/** A service made by saasquatch, with or without the event system, in a folder kept between runs. */
async function service(messageQueue = true): Promise<string> {
  const folder = keptFolder();
  await runApp().inDir(folder).withOptions({ serviceName: 'shop', database: false, messageQueue });
  return folder;
}

describe('saasquatch:event with a name and fields', () => {
  it('writes the schema, the type, a registered handler stub, its docs section and its test', async () => {
    const result = await runEvent().cd(await service()).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS });
    result.assertFileContent(
      'src/types/events.ts',
      /'order\.placed': eventSchema\(\n {4}'order\.placed',\n {4}\{\n {6}tenantId,\n {6}orderId: \{ type: 'string', format: 'uuid' \},\n {6}total: \{ type: 'number' \},\n {6}note: \{ type: 'string' \},\n {4}\},\n {4}\['tenantId', 'orderId', 'total'\],\n {2}\),\n {2}\/\/ saasquatch:event-schemas/,
    );
    result.assertFileContent('src/handlers/order-placed.handler.ts', "export const handleOrderPlaced: EventHandler<'order.placed'> = async (event, context) => {");
    result.assertFileContent('src/handlers/event-handlers.ts', "import { handleOrderPlaced } from './order-placed.handler';");
    result.assertFileContent('src/handlers/event-handlers.ts', "  fastify.registerHandler('order.placed', handleOrderPlaced);\n  // saasquatch:register-handlers");
    result.assertFileContent('src/app.ts', /await app\.register\(natsSubscriber\);\n {2}registerEventHandlers\(app\);\n/);
    result.assertFileContent('src/app.ts', "import { registerEventHandlers } from './handlers/event-handlers';");
    result.assertFileContent('docs/EVENTS.md', /### `order\.placed`\n[\s\S]*\| `note` \| string \| no \|[\s\S]*"data": \{ "tenantId": "acme-corp", "orderId": "[0-9a-f-]{36}", "total": 19\.99, "note": "example" \}\n\}\n```\n\n<!-- saasquatch:event-docs/);
    result.assertFileContent('test/integration/events/order-placed.test.ts', "const handled = jest.spyOn(handlerModule, 'handleOrderPlaced');");
    result.assertFileContent('test/integration/events/order-placed.test.ts', "data: { tenantId: tenant, orderId: \"not-a-uuid\", total: 19.99, note: \"example\" }");
    result.assertJsonFileContent('.yo-rc.json', { 'generator-saasquatch': { events: { 'order.placed': ORDER_FIELDS } } });
  });

  it('adds a second event beside the first, registering both once', async () => {
    const folder = await service();
    await runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS });
    const result = await runEvent().cd(folder).withArguments(['order.line_added']).withOptions({ field: 'quantity:integer' });
    result.assertFileContent('src/handlers/event-handlers.ts', /registerHandler\('order\.placed', handleOrderPlaced\);\n {2}fastify\.registerHandler\('order\.line_added', handleOrderLineAdded\);/);
    result.assertFileContent('src/handlers/order-line_added.handler.ts', 'handleOrderLineAdded');
    expect(result.fs.read(result.fs.store.get(`${folder}/src/app.ts`).path)!.match(/registerEventHandlers\(app\)/g)).toHaveLength(1);
  });

  it('changes nothing when run again with the same answers', async () => {
    const folder = await service();
    await runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS });
    const before = readTree(folder);
    await runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS });
    expect(readTree(folder)).toEqual(before);
  });
});

describe('saasquatch:event asks for what is missing', () => {
  it('asks for the name, then one field at a time until an empty answer', async () => {
    const fields = ['sku:string', 'paid:boolean?', ''];
    const result = await runEvent()
      .cd(await service())
      .withAnswers(
        { name: 'invoice.paid', field: '' },
        { callback: (answer, { question }) => (question.name === 'field' ? fields.shift() : answer) },
      );
    result.assertJsonFileContent('.yo-rc.json', { 'generator-saasquatch': { events: { 'invoice.paid': ['sku:string', 'paid:boolean?'] } } });
  });
});

describe('saasquatch:event bad input', () => {
  it.each([
    ['a bad name', ['Order.Placed'], ORDER_FIELDS, /Invalid event name "Order\.Placed"/],
    ['a one-word name', ['order'], ORDER_FIELDS, /Invalid event name "order"/],
    ['an unknown field type', ['order.placed'], ['total:money'], /Unknown type "money" for field "total"/],
    ['a field named like an envelope field', ['order.placed'], ['timestamp:date-time'], /Field "timestamp" is named like an envelope field/],
    ['tenantId as a field', ['order.placed'], ['tenantId:string'], /Field "tenantId" is in every event's data already/],
    ['a field given twice', ['order.placed'], ['total:number', 'total:integer'], /Field "total" is given twice/],
    ['a built-in type', ['user.created'], ['name:string'], /Event user\.created exists already in src\/types\/events\.ts/],
  ])('refuses %s and writes nothing', async (_why, args, field, message) => {
    const folder = await service();
    const before = readTree(folder);
    await expect(runEvent().cd(folder).withArguments(args).withOptions({ field })).rejects.toThrow(message);
    expect(readTree(folder)).toEqual(before);
  });

  it('refuses an existing type with other fields and writes nothing', async () => {
    const folder = await service();
    await runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS });
    const before = readTree(folder);
    await expect(runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ['orderId:string'] })).rejects.toThrow(
      /Event order\.placed exists already with other fields \(orderId:uuid total:number note:string\?\)/,
    );
    expect(readTree(folder)).toEqual(before);
  });

  it('refuses a service without the event system and writes nothing', async () => {
    const folder = await service(false);
    const before = readTree(folder);
    await expect(runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS })).rejects.toThrow(
      /No event system in .* \(src\/types\/events\.ts is missing\): add it with saasquatch:messaging first/,
    );
    expect(readTree(folder)).toEqual(before);
  });

  it('refuses a folder that is no service and writes nothing', async () => {
    const folder = keptFolder();
    await expect(runEvent().cd(folder).withArguments(['order.placed']).withOptions({ field: ORDER_FIELDS })).rejects.toThrow(/No package\.json in /);
    expect(readdirSync(folder)).toEqual([]);
  });
});

describe('field specifications', () => {
  it.each([
    ['note:string?', { name: 'note', type: 'string', optional: true }],
    ['placedAt:date-time', { name: 'placedAt', type: 'date-time', optional: false }],
  ])('reads %s', (spec, field) => {
    expect(parseField(spec)).toEqual(field);
  });

  it.each(['total', 'total:', ':number', 'Total:number', 'to-tal:number', 'total:number??'])('refuses %s', (spec) => {
    expect(() => parseField(spec)).toThrow(/Invalid field|Unknown type/);
  });
});

describe('saasquatch:event composed by another generator', () => {
  it.each(['namespace', 'path'] as const)('runs by %s with arguments and options instead of answers', async (by) => {
    const folder = await service();
    const result = await helpers
      .run(COMPOSER)
      .cd(folder)
      .withGenerators([
        [EVENT_GENERATOR, { namespace: 'saasquatch:event' }],
        [MESSAGING_GENERATOR, { namespace: 'saasquatch:messaging' }],
      ])
      .withOptions({ by, compose: 'event' } as Record<string, unknown>);
    result.assertFile(['src/handlers/order-placed.handler.ts', 'test/integration/events/order-placed.test.ts']);
    result.assertJsonFileContent('.yo-rc.json', { 'generator-saasquatch': { events: { 'order.placed': ['orderId:uuid', 'total:number'] } } });
  });
});

describe('edits of the service\'s files', () => {
  it('inserts a block before the needle\'s line, keeping the block\'s own indentation', () => {
    const content = 'const x = {\n  a: 1,\n  // needle\n};\n';
    expect(insertBlockBefore(content, '// needle', '  b: {\n    c: 2,\n  },')).toBe('const x = {\n  a: 1,\n  b: {\n    c: 2,\n  },\n  // needle\n};\n');
  });

  it('inserts before the first of two needles, at the start of a file, and not at all without one', () => {
    expect(insertBlockBefore('// n\n// n\n', '// n', 'x\n')).toBe('x\n// n\n// n\n');
    expect(insertBlockBefore('no needle here', '// n', 'x')).toBeUndefined();
  });

  it.each([
    ['the generated app', '  await app.register(natsSubscriber);\n  // rest\n', '  await app.register(natsSubscriber);\n  registerEventHandlers(app);\n  // rest\n'],
    ['another instance name, tabs and a comment', '\tawait server.register(natsSubscriber); // events\n', '\tawait server.register(natsSubscriber); // events\n\tregisterEventHandlers(server);\n'],
    ['plugin options', 'await app.register(natsSubscriber, { x: 1 });', 'await app.register(natsSubscriber, { x: 1 });\nregisterEventHandlers(app);'],
  ])('calls the registry after the subscriber in %s', (_case, app, expected) => {
    expect(callAfterSubscriber(app, 'registerEventHandlers')).toBe(expected);
  });

  it('leaves an app that calls the registry already, and finds nothing in one without the subscriber', () => {
    const app = 'await app.register(natsSubscriber);\nregisterEventHandlers(app);\n';
    expect(callAfterSubscriber(app, 'registerEventHandlers')).toBe(app);
    expect(callAfterSubscriber('await app.register(natsSubscriberPlugin);', 'registerEventHandlers')).toBeUndefined();
  });
});
