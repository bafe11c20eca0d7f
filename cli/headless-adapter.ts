import { TerminalAdapter } from '@yeoman/adapter';
import type { PromptAnswers, PromptQuestions } from '@yeoman/adapter/types';
import { UsageError } from '../lib/service-config.js';

/** The question Yeoman's conflicter asks before overwriting a file that differs from what the run writes. */
const OVERWRITE_QUESTION = /^Overwrite (.+)\?$/;

interface Question {
  name?: string;
  message?: unknown;
}

/**
 * A terminal adapter for runs without a terminal on stdin. Nobody can answer "Overwrite <file>?" there, so
 * instead of waiting for an answer that never comes (inquirer then fails with "User force closed the prompt"),
 * the run stops with one line that names the file and the two ways out.
 */
export class HeadlessAdapter extends TerminalAdapter {
  override async prompt<A extends PromptAnswers = PromptAnswers>(questions: PromptQuestions<A>, initialAnswers?: Partial<A>): Promise<A> {
    for (const question of (Array.isArray(questions) ? questions : [questions]) as Question[]) {
      const file = question.name === 'action' && typeof question.message === 'string' ? OVERWRITE_QUESTION.exec(question.message)?.[1] : undefined;
      if (file) throw new UsageError(conflictMessage(file));
    }
    return super.prompt(questions, initialAnswers);
  }
}

export function conflictMessage(file: string): string {
  return (
    `${file} has changed since it was generated and this run would overwrite it: rerun with --force to overwrite it, ` +
    `or add the line "${file} skip" to .yo-resolve to keep your version`
  );
}
