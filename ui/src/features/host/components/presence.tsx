/** Yes / no / unknown in a table cell, spelled out so it does not rely on colour or icons. */
export function Presence({ value }: { value: boolean | null }) {
  if (value === null) {
    return <span className="presence presence--unknown">unknown</span>;
  }
  return value ? (
    <span className="presence presence--yes">
      <span aria-hidden="true">✓ </span>yes
    </span>
  ) : (
    <span className="presence presence--no">
      <span aria-hidden="true">✗ </span>no
    </span>
  );
}
