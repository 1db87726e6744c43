/** The token store's records: a token entry, a token role, tidy's report and what create takes. */
export interface TokenEntry {
  /** Salted hash of the token: the storage id. */
  id: string;
  accessor: string;
  /** Salted hash of the parent token, "" for orphans. */
  parent: string;
  /**
   * Id of the namespace whose store holds the parent, when that is not this store's (a parent namespace's
   * token created this one here). Absent for parents in the same store.
   */
  parentNamespace?: string;
  policies: string[];
  path: string;
  meta: Record<string, string>;
  displayName: string;
  /** 0 = unlimited; otherwise uses left. */
  numUses: number;
  /** Unix seconds. */
  creationTime: number;
  /** Seconds of the current lease (0 = no expiry). */
  ttl: number;
  /** The TTL the token was created with. */
  creationTtl: number;
  explicitMaxTtl: number;
  period: number;
  renewable: boolean;
  /** Unix ms; 0 = never expires. */
  expireTime: number;
  /** Unix ms of the last renewal or creation. */
  issueTime: number;
  type: "service" | "batch";
  entityId: string;
  noDefaultPolicy: boolean;
  /** Client addresses (CIDR blocks) allowed to use this token; absent or empty = anywhere. */
  boundCidrs?: string[];
  /** Token role the token was created against (absent when none). */
  role?: string;
  /** Unix ms of the last renewal (absent until renewed). */
  lastRenewalTime?: number;
}

/** A token role (`auth/token/roles/:name`), stored as given after normalisation. */
export interface TokenRole {
  name: string;
  allowedPolicies: string[];
  disallowedPolicies: string[];
  allowedPoliciesGlob: string[];
  disallowedPoliciesGlob: string[];
  allowedEntityAliases: string[] | null;
  orphan: boolean;
  renewable: boolean;
  pathSuffix: string;
  /** Legacy `period` / `explicit_max_ttl` as written, echoed on read (OpenBao keeps them too). */
  period: number;
  explicitMaxTtl: number;
  tokenPeriod: number;
  tokenExplicitMaxTtl: number;
  tokenNoDefaultPolicy: boolean;
  tokenNumUses: number;
  tokenType: "service" | "batch" | "default-service" | "default-batch";
  tokenBoundCidrs: string[];
}

export interface TidyResult {
  /** Parent index rows removed (parent or child gone). */
  parentEntries: number;
  /** Children whose parent was gone and that became orphans. */
  orphaned: number;
  /** Accessor index rows pointing at no token. */
  accessorEntries: number;
  /** Expired tokens revoked. */
  expired: number;
}

export interface CreateTokenParams {
  policies: string[];
  parent?: TokenEntry;
  /** Id of the namespace whose store holds `parent`, when it is another namespace's. */
  parentNamespace?: string;
  orphan?: boolean;
  id?: string;
  path: string;
  meta?: Record<string, string>;
  displayName?: string;
  numUses?: number;
  ttl?: number;
  explicitMaxTtl?: number;
  period?: number;
  renewable?: boolean;
  noDefaultPolicy?: boolean;
  /** Upper bound for ttl from the system/mount max (0 = none). */
  maxTtl?: number;
  boundCidrs?: string[];
  /** Token role name, recorded so renewals follow the role's period / explicit max TTL. */
  role?: string;
  /** "batch": a self-contained encrypted token, nothing stored (batch-token.ts); default "service". */
  type?: "service" | "batch";
}
