/**
 * userfaultfd features and ioctls that decide what Faultline can do on this host, with why.
 * Only these are highlighted; the rest are listed plainly.
 */
export const notableFeatures: Readonly<Record<string, string>> = {
  wp_async:
    'Asynchronous write-protect: the kernel resolves write-protect faults itself, so precopy dirty tracking costs no fault round trips.',
  move: 'UFFDIO_MOVE: pages are moved into place instead of copied, for cheaper restore and postcopy.',
  poison:
    'UFFDIO_POISON: a page that cannot be restored raises SIGBUS in the workload instead of hanging it.',
  minor_shmem:
    'Minor faults on shmem: restore into shared memory whose pages are already in the page cache.',
  wp_unpopulated:
    'Write-protect of pages never touched, so a live snapshot also covers memory that was never populated.',
};

export const notableIoctls: Readonly<Record<string, string>> = {
  move: 'Moves a page into the region without a copy.',
  writeprotect: 'Needed for live snapshots and dirty tracking.',
  continue: 'Resolves minor faults (shmem and hugetlbfs restore).',
  poison: 'Marks a page lost so access fails loudly.',
};
