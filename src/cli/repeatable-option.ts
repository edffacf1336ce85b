/** Commander's argParser for a repeatable option: each use adds to the list. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
