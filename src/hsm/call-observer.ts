/**
 * One hook for whoever wants to watch HSM calls (metrics), so the HSM layer depends on nothing above it.
 */
export type HsmCallObserver = (token: string, seconds: number, ok: boolean) => void;

let observer: HsmCallObserver | undefined;

export function setHsmCallObserver(fn: HsmCallObserver | undefined): void {
  observer = fn;
}

export function observeHsmCall(token: string, startedNs: bigint, ok: boolean): void {
  if (observer) observer(token, Number(process.hrtime.bigint() - startedNs) / 1e9, ok);
}
