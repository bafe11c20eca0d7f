import { execFileSync } from 'node:child_process';
import { DATABASE_URL } from './server-urls.js';

/**
 * The schema of the outbox and inbox of a service started from the environment (the generated default). The
 * built services the end-to-end files start create it in the shared database, several files at once, so it
 * is removed once, after every file, and only when the run made it.
 */
const MESSAGING_SCHEMA = 'messaging';

/** Runs `sql` in the shared database and returns what it printed, unaligned and without headers. */
function psql(sql: string): string {
  return execFileSync('psql', [DATABASE_URL, '-Atqc', `SET client_min_messages TO warning; ${sql}`], { encoding: 'utf8' }).trim();
}

/** The tests run the compiled generators (as users do): build them once, from the current sources. */
export default function setup(): () => void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  const existedBefore = psql(`SELECT count(*) FROM pg_namespace WHERE nspname = '${MESSAGING_SCHEMA}'`) !== '0';
  return () => {
    if (!existedBefore) psql(`DROP SCHEMA IF EXISTS ${MESSAGING_SCHEMA} CASCADE`);
  };
}
