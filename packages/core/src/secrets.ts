/**
 * Replace every occurrence of the given secrets (and their base64 forms, as they appear in auth headers
 * and auth files) in a text that may reach a log or an error message.
 */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    for (const form of [secret, Buffer.from(secret).toString('base64')]) {
      result = result.split(form).join('***');
    }
  }
  return result;
}
