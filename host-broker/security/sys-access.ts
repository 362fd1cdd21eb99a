// Who may read $SYS/...: the hub's own counters (metrics/sys-topics.ts) say how
// many devices there are and how busy the hub is, so a device reads them only
// when its subscribe policy grants them outright: an accept filter that covers
// the subscription, e.g. `devices add monitor --subscribe-accept '$SYS/#'`.
// Having no policy at all is not a grant.
import { policyAllowsFilter, type TopicPolicy } from './topic-policy';

export function isSysFilter(filter: string): boolean {
  return filter === '$SYS' || filter.startsWith('$SYS/');
}

export function policyGrantsSys(policy: TopicPolicy | undefined, filter: string): boolean {
  return !!policy?.accept && policyAllowsFilter(policy, filter);
}
