import { useMutation, useQueryClient } from '@tanstack/react-query';

import { requestWithResponse } from '@/lib/api-client';

import type { RegionWithEtag } from './get-region';
import { type Region, regionKeys } from './types';

const endpoint = '/api/v1/regions';

/** The merge patch from `before` to `after`: changed and new labels, and null for removed ones. */
export function labelsPatch(before: Record<string, string>, after: Record<string, string>) {
  const patch: Record<string, string | null> = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) if (before[key] !== value) patch[key] = value;
  return patch;
}

/**
 * `PATCH /api/v1/regions/{id}` as a JSON merge patch of labels, guarded by If-Match: a 412 means
 * someone changed the region since it was read, and nothing was written.
 */
export async function updateRegionLabels({
  id,
  etag,
  labels,
}: {
  id: string;
  etag: string;
  labels: Record<string, string | null>;
}): Promise<RegionWithEtag> {
  const response = await requestWithResponse<Region>(`${endpoint}/${encodeURIComponent(id)}`, {
    method: 'PATCH',
    body: { labels },
    contentType: 'application/merge-patch+json',
    headers: { 'If-Match': etag },
  });
  return { ...response.data, etag: response.etag };
}

export function useUpdateRegionLabels() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: updateRegionLabels,
    onSuccess: (region) => {
      queryClient.setQueryData(regionKeys.detail(region.id), region);
      void queryClient.invalidateQueries({ queryKey: ['regions', 'list'] });
    },
  });
}
