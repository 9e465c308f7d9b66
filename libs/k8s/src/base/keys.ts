// Work-queue keys are `namespace/name`, as in client-go.

export function splitKey(key: string): [namespace: string, name: string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
