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
import { ListFilters, toSiteFilters, type ListFilter } from "./ListFilters";
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

/** `value`, once it has stopped changing for `ms`. */
function useSettled<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/**
 * The documents of one doctype, as in Desk: the total that match, paging
 * through any number of them, sorted by any column (click its header), a
 * search box and any number of filters; refreshed while shown. Searching,
 * sorting and paging are the site's (a headless TanStack table over
 * server-side pages).
 */
export function DocList(props: { doctype: string; onOpen: (name: string) => void; onNew: () => void }) {
  const { doctype } = props;
  const [meta, setMeta] = useState<DocType | null>(null);
  const [metaError, setError] = useState<string | null>(null);
  const [typed, setTyped] = useState("");
  const [filters, setFilters] = useState<ListFilter[]>([]);
  // A pause in typing, not every key, asks the site.
  const search = useSettled(typed.trim(), 250);
  const [sorting, setSorting] = useState<SortingState>([{ id: "modified", desc: true }]);
  const [pagination, setPagination] = useState<PaginationState>({ pageIndex: 0, pageSize: PAGE_SIZES[0] });

  useEffect(() => {
    setMeta(null);
    setTyped("");
    setFilters([]);
    setSorting([{ id: "modified", desc: true }]);
    setPagination((p) => ({ ...p, pageIndex: 0 }));
    backend.getDoctype(doctype).then(setMeta).catch((e: BackendError) => setError(e.message));
  }, [doctype]);


  const listed = useMemo(() => (meta ? meta.fields.filter((f) => f.in_list_view && f.fieldtype !== "Table") : []), [meta]);
  const filterable = useMemo(() => (meta ? meta.fields.filter((f) => f.fieldtype !== "Table") : []), [meta]);

  const siteFilters = useMemo(() => (meta ? toSiteFilters(meta.fields, filters) : []), [meta, filters]);
  const narrowed = siteFilters.length > 0 || search !== "";
  // Another search or filter starts from the first page.
  const filterKey = JSON.stringify([search, siteFilters]);
  useEffect(() => setPagination((p) => ({ ...p, pageIndex: 0 })), [filterKey]);

  // The page and the count are asked for apart: turning a page does not
  // count again. Each answer says which search and filters it is for.
  const loadPage = useCallback(async (): Promise<{ key: string; docs: Doc[]; start: number } | null> => {
    if (!meta) return null;
    const [search, list] = JSON.parse(filterKey) as [string, unknown[][]];
    const order = sorting[0] ?? { id: "modified", desc: true };
    const docs = await backend.listDocuments(doctype, {
      fields: ["name", "modified", "docstatus", ...listed.map((c) => c.fieldname)],
      filters: list.length ? list : undefined,
      search: search || undefined,
      order_by: `${order.id} ${order.desc ? "desc" : "asc"}`,
      limit_start: pagination.pageIndex * pagination.pageSize,
      limit_page_length: pagination.pageSize,
    });
    return { key: filterKey, docs, start: pagination.pageIndex * pagination.pageSize };
  }, [doctype, meta, listed, filterKey, sorting, pagination]);
  const loadCount = useCallback(async (): Promise<{ key: string; total: number } | null> => {
    if (!meta) return null;
    const [search, list] = JSON.parse(filterKey) as [string, unknown[][]];
    const total = await backend.method<number>("frappe.client.get_count", {
      doctype,
      filters: list.length ? list : undefined,
      search: search || undefined,
    });
    return { key: filterKey, total };
  }, [doctype, meta, filterKey]);
  const { data, error: listError } = usePolled(["documents", doctype, listed.map((c) => c.fieldname), filterKey, sorting, pagination, meta !== null], loadPage, REFRESH_MS);
  const { data: counted, error: countError } = usePolled(["count", doctype, filterKey, meta !== null], loadCount, REFRESH_MS);
  const error = metaError ?? listError ?? countError;
  const docs = data?.docs ?? null;
  // A count of other filters than the rows shown is not shown.
  const counting = !(counted && data && counted.key === data.key);
  const total = counting ? (data?.start ?? 0) + (docs?.length ?? 0) : counted.total;

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
      // Draft/Submitted/Cancelled, where a document can be submitted and its
      // doctype shows no status of its own.
      ...(meta?.is_submittable && !listed.some((c) => c.fieldname === "status")
        ? [{ id: "docstatus", accessorFn: (d: Doc) => d.docstatus, header: "Status", cell: ({ row }: { row: { original: Doc } }) => STATUS[Number(row.original.docstatus)] ?? "" }]
        : []),
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
    [listed, props, meta],
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
  // What is on screen, not what was asked for (the next page may be on its way).
  const start = data?.start ?? 0;
  const first = total === 0 || !docs?.length ? 0 : start + 1;
  const last = start + (docs?.length ?? 0);

  return (
    <section className="card documents" aria-label={`${doctype} list`}>
      <div className="toolbar">
        <h2>{doctype}</h2>
        <input
          type="search"
          className="search"
          aria-label={`Search ${doctype}`}
          placeholder={`Search ${doctype}…`}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
        />
        <button type="button" onClick={props.onNew}>
          New {doctype}
        </button>
      </div>
      {meta && <ListFilters fields={filterable} filters={filters} onChange={setFilters} />}
      <Alerts error={error} />
      {docs === null ? (
        <p className="muted">Loading…</p>
      ) : docs.length === 0 && total === 0 ? (
        <p className="muted" id="no-documents">
          No {doctype} {narrowed ? "matches" : "yet"}.
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
              {first.toLocaleString()}–{last.toLocaleString()} of {counting ? "…" : total.toLocaleString()}
            </span>
            <button type="button" className="secondary" onClick={() => table.firstPage()} disabled={!table.getCanPreviousPage()}>
              First
            </button>
            <button type="button" className="secondary" onClick={() => table.previousPage()} disabled={!table.getCanPreviousPage()}>
              Previous
            </button>
            <button type="button" className="secondary" onClick={() => table.nextPage()} disabled={!table.getCanNextPage()}>
              Next
            </button>
            <button type="button" className="secondary" onClick={() => table.lastPage()} disabled={!table.getCanNextPage()}>
              Last
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
