import { formatCount } from '@/lib/format';

import { Button } from './button';

/** Previous / next over a page response ({page, totalPages, totalItems}), pages counted from 0. */
export function Pagination({
  page,
  totalPages,
  totalItems,
  onPage,
  noun = 'items',
}: {
  page: number;
  totalPages: number;
  totalItems: number;
  onPage: (page: number) => void;
  noun?: string;
}) {
  return (
    <nav className="pagination toolbar" aria-label="Pages">
      <Button onClick={() => onPage(page - 1)} disabled={page <= 0}>
        Previous page
      </Button>
      <span className="muted">
        Page {totalPages === 0 ? 0 : page + 1} of {totalPages} · {formatCount(totalItems)} {noun}
      </span>
      <Button onClick={() => onPage(page + 1)} disabled={page + 1 >= totalPages}>
        Next page
      </Button>
    </nav>
  );
}
