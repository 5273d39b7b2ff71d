import bcrypt from 'bcryptjs';

/**
 * One htpasswd file body for the distribution registry, which accepts bcrypt entries only. The low cost
 * keeps per-request verification cheap: these credentials guard throwaway loopback registries.
 */
export function htpasswdFile(users: Readonly<Record<string, string>>): string {
  return Object.entries(users)
    .map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}\n`)
    .join('');
}
