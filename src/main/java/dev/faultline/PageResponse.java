package dev.faultline;

import java.util.List;
import java.util.function.Function;
import org.springframework.data.domain.Page;

/**
 * One page of a list. Pages are numbered from 0.
 *
 * @param totalItems how many items match, over all pages
 */
public record PageResponse<T>(List<T> items, int page, int size, long totalItems, int totalPages) {

    /** A page read from the database, each item turned into its view. */
    public static <E, T> PageResponse<T> of(Page<E> page, Function<E, T> view) {
        return new PageResponse<>(page.getContent().stream().map(view).toList(), page.getNumber(), page.getSize(),
                page.getTotalElements(), page.getTotalPages());
    }

    /** Cuts page {@code page} of {@code size} items out of every matching item. */
    public static <T> PageResponse<T> of(List<T> all, int page, int size) {
        int from = (int) Math.min((long) page * size, all.size());
        int to = Math.min(from + size, all.size());
        return new PageResponse<>(List.copyOf(all.subList(from, to)), page, size, all.size(),
                (all.size() + size - 1) / size);
    }
}
