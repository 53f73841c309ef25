import * as AlertDialog from "@radix-ui/react-alert-dialog";
import { useCallback, useRef, useState, type ReactNode } from "react";

/** What a confirmation asks: what is about to happen and what it breaks. */
export interface Ask {
  title: string;
  body: string;
  /** The confirming button's words ("Submit", "Discard changes"). */
  action: string;
  /** Red when it loses or breaks something. */
  danger?: boolean;
}

/**
 * An accessible confirmation (Radix Alert Dialog: focus kept inside, Escape
 * cancels, read as an alert dialog). `ask(…)` resolves true when confirmed.
 */
export function useConfirm(): [(ask: Ask) => Promise<boolean>, ReactNode] {
  const [open, setOpen] = useState<Ask | null>(null);
  const answer = useRef<(yes: boolean) => void>(() => {});
  const ask = useCallback(
    (a: Ask) =>
      new Promise<boolean>((resolve) => {
        answer.current = resolve;
        setOpen(a);
      }),
    [],
  );
  const close = (yes: boolean) => {
    setOpen(null);
    answer.current(yes);
  };
  const dialog = (
    <AlertDialog.Root open={open !== null} onOpenChange={(o) => !o && close(false)}>
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="dialog-overlay" />
        <AlertDialog.Content className="dialog card">
          <AlertDialog.Title>{open?.title}</AlertDialog.Title>
          <AlertDialog.Description>{open?.body}</AlertDialog.Description>
          <div className="actions">
            <AlertDialog.Cancel className="secondary" onClick={() => close(false)}>
              Keep as it is
            </AlertDialog.Cancel>
            <AlertDialog.Action className={open?.danger ? "danger" : undefined} onClick={() => close(true)}>
              {open?.action}
            </AlertDialog.Action>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
  return [ask, dialog];
}
