/** What the core knows of HA (sys/leader, sys/ha-status); absent when the storage is not shared. */
export interface HaNodeInfo {
  node: string;
  apiAddr: string;
  active: boolean;
  lastEcho: Date;
}

export interface HaState {
  /** This server holds background work. */
  readonly active: boolean;
  readonly activeSince: Date | undefined;
  readonly leader: HaNodeInfo | undefined;
  readonly nodes: readonly HaNodeInfo[];
}
