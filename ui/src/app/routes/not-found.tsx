import { useEffect } from 'react';
import { Link } from 'react-router';

import { paths } from '@/config/paths';

export function NotFoundRoute() {
  useEffect(() => {
    document.title = 'Not found · Faultline';
  }, []);
  return (
    <div className="page-header">
      <h1>Page not found</h1>
      <p className="muted">
        Nothing lives at this address. <Link to={paths.overview}>Go to the overview</Link>.
      </p>
    </div>
  );
}
