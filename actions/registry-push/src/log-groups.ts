import { endGroup, startGroup } from '@actions/core';

/**
 * The job log's foldable groups. The runner does not nest them (a `::group::` inside a group starts a new
 * one), so a tool run inside a phase closes the phase's group, has its own, and then reopens the phase's
 * ("… (continued)"): every line stays in a group, and each group is what its title says.
 */
let openPhase: string | undefined;

/** Run one phase of the step (`Find the registry`, `Push …`) in its own group. */
export async function phase<T>(title: string, work: () => Promise<T>): Promise<T> {
  startGroup(title);
  openPhase = title;
  try {
    return await work();
  } finally {
    endGroup();
    openPhase = undefined;
  }
}

/** Run one tool in its own group, between the parts of the phase that started it. */
export async function toolGroup<T>(title: string, work: () => Promise<T>): Promise<T> {
  const outer = openPhase;
  if (outer !== undefined) endGroup();
  startGroup(title);
  try {
    return await work();
  } finally {
    endGroup();
    if (outer !== undefined) startGroup(`${outer} (continued)`);
  }
}
