import type { Argv, Options } from 'yargs';
import { envName, type AnyOptionSpec } from '../config/schema.ts';
import { choicesOf } from '../config/values.ts';

/**
 * Declare schema options on a yargs command. No yargs defaults are set, so
 * "not given" stays visible and the environment can fill the gap; values are
 * parsed by the schema, not by yargs, so every source reports errors alike.
 */
export function declareOptions<T>(
  y: Argv<T>,
  specs: readonly (readonly [string, AnyOptionSpec])[],
): Argv<T> {
  let out = y;
  for (const [, spec] of specs) {
    const choices = spec.boolean === true ? undefined : choicesOf(spec.parse);
    const option: Options = {
      group: `${spec.group}:`,
      describe: `${spec.describe}${choices === undefined ? '' : ` [values: ${choices.join('|')}]`} [default: ${spec.defaultText}] [env: ${envName(spec.flag)}]${
        spec.repeatable === true || spec.combine !== undefined ? ' [repeatable]' : ''
      }`,
    };
    if (spec.boolean === true) {
      option.type = 'boolean';
    } else {
      option.type = 'string';
      option.requiresArg = true;
    }
    out = out.option(spec.flag, option);
  }
  return out;
}
