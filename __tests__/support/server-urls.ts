/** Where the tests find the real servers (never mocks): the environment when set, the local defaults otherwise. */
export const NATS_URL = process.env.NATS_URL || 'nats://127.0.0.1:4222';
export const DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
