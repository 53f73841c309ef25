/** An operation's outcome: an error (role alert) and/or a confirmation (role status). */
export function Alerts({ error, notice }: { error?: string | null; notice?: string | null }) {
  return (
    <>
      {error && (
        <div role="alert" className="error">
          {error}
        </div>
      )}
      {notice && (
        <div role="status" className="ok">
          {notice}
        </div>
      )}
    </>
  );
}
