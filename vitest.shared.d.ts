import type { UserConfig } from 'vitest/config';

declare const config: UserConfig;
export default config;

/** The variable CI sets: a missing requirement fails the run instead of skipping tests. */
export declare const REQUIRE_ALL_TESTS_ENV: 'SUPWALSH_REQUIRE_ALL_TESTS';

/** Requirements treated as missing whatever is installed (comma-separated). */
export declare const TESTS_WITHOUT_ENV: 'SUPWALSH_TESTS_WITHOUT';

/** What tests may need beyond Node. */
export type Requirement = 'fashion-mnist' | 'kubectl' | 'openssl' | 'tar' | 'chromium' | 'torch';

export declare const REQUIREMENTS: Readonly<
  Record<Requirement, { readonly what: string; readonly install: string; present(): boolean }>
>;

/**
 * Whether any of `names` is missing on this machine (`describe.skipIf(lacks('kubectl'))(…)`), reported once in one
 * line naming the package to install; throws instead under SUPWALSH_REQUIRE_ALL_TESTS=1.
 */
export declare function lacks(...names: Requirement[]): boolean;
