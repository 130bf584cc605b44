package dev.faultline.web;

import java.util.List;

/**
 * One page of a list. Pages are numbered from 0.
 *
 * @param totalItems how many items match, over all pages
 */
public record PageResponse<T>(List<T> items, int page, int size, long totalItems, int totalPages) {

    /** Cuts page {@code page} of {@code size} items out of every matching item. */
    public static <T> PageResponse<T> of(List<T> all, int page, int size) {
        int from = (int) Math.min((long) page * size, all.size());
        int to = Math.min(from + size, all.size());
        return new PageResponse<>(List.copyOf(all.subList(from, to)), page, size, all.size(),
                (all.size() + size - 1) / size);
    }
}
