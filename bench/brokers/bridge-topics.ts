// The topics the bench loads publish on (bench/load: throughput, one-at-a-time,
// paced), which every bridge edge carries up. A file of its own: the compiled
// edge process imports it without the rest of the bench.
export const BRIDGED_TOPICS = ['bench/#', 'lat/#', 'paced/#'];
