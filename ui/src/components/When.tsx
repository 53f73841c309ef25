import { exact, relative } from "./times";

/** A site timestamp as "5 minutes ago", the exact time on hover; "never" when there is none. */
export function When(props: { stamp: string | null | undefined }) {
  if (!props.stamp) return <>never</>;
  return (
    <time dateTime={props.stamp} title={exact(props.stamp)}>
      {relative(props.stamp)}
    </time>
  );
}
