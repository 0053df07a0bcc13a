/**
 * Runs requests so that only the newest one's answer counts: a view reloading as the user types
 * drops the answer to an older, slower request (`undefined`) instead of showing stale results.
 */
export function latestOnly(): <T>(request: () => Promise<T>) => Promise<T | undefined> {
  let asked = 0;
  return async (request) => {
    const ticket = ++asked;
    const answer = await request();
    return ticket === asked ? answer : undefined;
  };
}
