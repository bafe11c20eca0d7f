import { execFileSync } from 'node:child_process';

/** The tests run the compiled generators (as users do): build them once, from the current sources. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
