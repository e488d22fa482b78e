/** Loading records from a flaky service, with a few attempts each. */

export interface User {
  id: string;
  name: string;
}

export interface Order {
  id: number;
  total: number;
}

/** How many times a record is asked for before giving up. */
export const ATTEMPTS = 3;

export async function loadUser(
  fetchUser: (id: string) => Promise<User>,
  id: string,
): Promise<User> {
  let lastError: unknown = new Error("no attempt was made");
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return await fetchUser(id);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

export async function loadOrder(
  fetchOrder: (id: number) => Promise<Order>,
  id: number,
): Promise<Order> {
  let lastError: unknown = new Error("no attempt was made");
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return await fetchOrder(id);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
