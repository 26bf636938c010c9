/**
 * Where credentials come from. A Keychain answers for one registry host; the
 * client asks it only when a registry challenges, and never logs what it got.
 * The agent adds sources (CRI, Kubernetes secrets) by implementing this.
 */
export type Credentials =
  | { readonly kind: "basic"; readonly username: string; readonly password: string }
  /** A refresh token (docker's `identitytoken`), exchanged at the token endpoint. */
  | { readonly kind: "identity-token"; readonly username?: string; readonly token: string };

export interface Keychain {
  /** Credentials for a registry host (as named in the image, e.g. docker.io), or undefined. */
  credentials(
    registry: string,
    options?: { signal?: AbortSignal },
  ): Promise<Credentials | undefined>;
}

/** No credentials anywhere: anonymous access only. */
export const anonymousKeychain: Keychain = {
  credentials: async () => undefined,
};

/** A fixed map of host to credentials. */
export function staticKeychain(entries: Record<string, Credentials>): Keychain {
  return { credentials: async (registry) => entries[registry] };
}

/** Asks each keychain in order; the first that answers wins. */
export function chainKeychains(...chain: Keychain[]): Keychain {
  return {
    credentials: async (registry, options) => {
      for (const k of chain) {
        const found = await k.credentials(registry, options);
        if (found) return found;
      }
      return undefined;
    },
  };
}
