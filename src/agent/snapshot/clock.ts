/**
 * Wall-clock time in microseconds since the epoch. containerd's suite checks
 * that a snapshot's updated time lies between two readings of its own clock
 * taken around the call, so milliseconds (Date.now() truncates) are not
 * enough. performance.now() steps below a millisecond; its anchor is moved
 * back to Date.now() when the two drift apart (NTP steps, suspend).
 */
export type MicrosClock = () => number;

export function systemClockUs(): MicrosClock {
  let anchorUs = performance.timeOrigin * 1000;
  return () => {
    const nowUs = anchorUs + performance.now() * 1000;
    const wallUs = Date.now() * 1000;
    if (Math.abs(nowUs - wallUs) > 2000) {
      anchorUs = wallUs - performance.now() * 1000;
      return Math.floor(wallUs);
    }
    return Math.floor(nowUs);
  };
}
