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
  /**
   * sys/step-down: the node holding background work gives it up so another takes over. Asked on any node
   * (several workers share one address), it reaches the holder.
   */
  stepDown(): Promise<void>;
}
