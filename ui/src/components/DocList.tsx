import { useCallback, useEffect, useMemo, useState } from "react";
import {
  flexRender,
  getCoreRowModel,
  useReactTable,
  type ColumnDef,
  type PaginationState,
  type SortingState,
} from "@tanstack/react-table";
import { backend, BackendError, type Doc } from "../api";
import type { DocType } from "../bindings/DocType";
import { Alerts } from "./Alerts";
import { usePolled } from "./usePolled";
import { labelOf } from "./Field";
import { When } from "./When";

const REFRESH_MS = 3000;
const STATUS = ["Draft", "Submitted", "Cancelled"];

function show(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

const PAGE_SIZES = [20, 100, 500];

/**
 * The documents of one doctype, as in Desk: the total that match, paging
 * through any number of them, sorted by any column (click its header), one
 * filter; refreshed while shown. Sorting and paging are the site's (a
 * headless TanStack table over server-side pages).
 */
export function DocList(props: { doctype: string; onOpen: (name: string) => void; onNew: () => void }) {
  const { doctype } = props;
  const [meta, setMeta] = useState<DocType | null>(null);
  const [metaError, setError] = useState<string | null>(null);
  const [field, setField] = useState("name");
  const [value, setValue] = useState("");
  const [sorting, setSorting] = useState<SortingState>([{ id: "modified", desc: true }]);
  const [pagination, setPagination] = useState<PaginationState>({ pageIndex: 0, pageSize: PAGE_SIZES[0] });

  useEffect(() => {
    setMeta(null);
    setField("name");
    setValue("");
    setSorting([{ id: "modified", desc: true }]);
    setPagination((p) => ({ ...p, pageIndex: 0 }));
    backend.getDoctype(doctype).then(setMeta).catch((e: BackendError) => setError(e.message));
  }, [doctype]);
  // Another filter starts from the first page.
  useEffect(() => setPagination((p) => ({ ...p, pageIndex: 0 })), [field, value]);

  const listed = useMemo(() => (meta ? meta.fields.filter((f) => f.in_list_view && f.fieldtype !== "Table") : []), [meta]);
  const filterable = useMemo(() => (meta ? meta.fields.filter((f) => f.fieldtype !== "Table") : []), [meta]);

  const load = useCallback(async (): Promise<{ docs: Doc[]; total: number } | null> => {
    if (!meta) return null;
    const f = meta.fields.find((x) => x.fieldname === field);
    const textual = !f || ["Data", "Small Text", "Text", "Long Text", "Text Editor", "Link", "Dynamic Link", "Code", "Select"].includes(f.fieldtype);
    // "like" matches whatever the case (SQLite's LIKE), so does a Select.
    const filters = value.trim() === "" ? undefined : { [field]: textual ? ["like", `%${value.trim()}%`] : value.trim() };
    const order = sorting[0] ?? { id: "modified", desc: true };
    const [docs, total] = await Promise.all([
      backend.listDocuments(doctype, {
        fields: ["name", "modified", "docstatus", ...listed.map((c) => c.fieldname)],
        filters,
        order_by: `${order.id} ${order.desc ? "desc" : "asc"}`,
        limit_start: pagination.pageIndex * pagination.pageSize,
        limit_page_length: pagination.pageSize,
      }),
      backend.method<number>("frappe.client.get_count", { doctype, filters }),
    ]);
    return { docs, total };
  }, [doctype, meta, listed, field, value, sorting, pagination]);
  const { data, error: listError } = usePolled(load, REFRESH_MS);
  const error = metaError ?? listError;
  const docs = data?.docs ?? null;
  const total = data?.total ?? 0;

  const columns = useMemo<ColumnDef<Doc>[]>(
    () => [
      {
        id: "name",
        // An accessor makes a column sortable (the site does the sorting).
        accessorFn: (d) => d.name,
        header: "Name",
        cell: ({ row }) => (
          <a
            href={`#open-${encodeURIComponent(row.original.name)}`}
            onClick={(e) => {
              e.preventDefault();
              props.onOpen(row.original.name);
            }}
          >
            {row.original.name}
          </a>
        ),
      },
      ...listed.map<ColumnDef<Doc>>((c) => ({
        id: c.fieldname,
        accessorFn: (d) => d[c.fieldname],
        header: labelOf(c),
        cell: ({ row }) => {
          const v = show(row.original[c.fieldname]);
          return c.fieldtype === "Select" && c.read_only ? <span className={`chip chip-${v.toLowerCase().replace(/\s+/g, "-")}`}>{v}</span> : v;
        },
      })),
      { id: "docstatus", accessorFn: (d) => d.docstatus, header: "Status", cell: ({ row }) => STATUS[Number(row.original.docstatus)] ?? "" },
      {
        id: "modified",
        accessorFn: (d) => d.modified,
        header: "Modified",
        cell: ({ row }) => (
          <span className="muted">
            <When stamp={show(row.original.modified)} />
          </span>
        ),
      },
    ],
    [listed, props],
  );
  const table = useReactTable({
    data: docs ?? [],
    columns,
    getCoreRowModel: getCoreRowModel(),
    getRowId: (d) => d.name,
    manualSorting: true,
    manualPagination: true,
    enableSortingRemoval: false,
    rowCount: total,
    state: { sorting, pagination },
    // Another order starts from the first page.
    onSortingChange: (u) => {
      setSorting(u);
      setPagination((p) => ({ ...p, pageIndex: 0 }));
    },
    onPaginationChange: setPagination,
  });
  const first = total === 0 ? 0 : pagination.pageIndex * pagination.pageSize + 1;
  const last = Math.min(total, (pagination.pageIndex + 1) * pagination.pageSize);

  return (
    <section className="card documents" aria-label={`${doctype} list`}>
      <div className="toolbar">
        <h2>{doctype}</h2>
        <label>
          Filter{" "}
          <select aria-label="Filter field" value={field} onChange={(e) => setField(e.target.value)}>
            <option value="name">Name</option>
            {filterable.map((f) => (
              <option key={f.fieldname} value={f.fieldname}>
                {labelOf(f)}
              </option>
            ))}
          </select>
        </label>
        <input aria-label="Filter value" placeholder="contains…" value={value} onChange={(e) => setValue(e.target.value)} />
        <button type="button" onClick={props.onNew}>
          New {doctype}
        </button>
      </div>
      <Alerts error={error} />
      {docs === null ? (
        <p className="muted">Loading…</p>
      ) : docs.length === 0 && total === 0 ? (
        <p className="muted" id="no-documents">
          No {doctype} {value ? "matches" : "yet"}.
        </p>
      ) : (
        <>
          <div className="table-scroll">
            <table id="documents-table">
              <thead>
                {table.getHeaderGroups().map((g) => (
                  <tr key={g.id}>
                    {g.headers.map((h) => {
                      const sorted = h.column.getIsSorted();
                      return (
                        <th key={h.id} aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"}>
                          <button type="button" className="sort" onClick={h.column.getToggleSortingHandler()}>
                            {flexRender(h.column.columnDef.header, h.getContext())}
                            <span aria-hidden="true">{sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}</span>
                          </button>
                        </th>
                      );
                    })}
                  </tr>
                ))}
              </thead>
              <tbody>
                {table.getRowModel().rows.map((r) => (
                  <tr key={r.id} data-name={r.id}>
                    {r.getVisibleCells().map((c) => (
                      <td key={c.id} className={c.column.id === "name" ? "doc-name" : undefined}>
                        {flexRender(c.column.columnDef.cell, c.getContext())}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="pager" role="group" aria-label="Pages">
            <span role="status" aria-label="Shown">
              {first.toLocaleString()}–{last.toLocaleString()} of {total.toLocaleString()}
            </span>
            <button type="button" className="secondary" onClick={() => table.previousPage()} disabled={!table.getCanPreviousPage()}>
              Previous
            </button>
            <button type="button" className="secondary" onClick={() => table.nextPage()} disabled={!table.getCanNextPage()}>
              Next
            </button>
            <label>
              Per page{" "}
              <select value={pagination.pageSize} onChange={(e) => table.setPageSize(Number(e.target.value))}>
                {PAGE_SIZES.map((n) => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </>
      )}
    </section>
  );
}
