// Quoting for the few SQL texts that cannot take bound parameters: identifiers (column names from
// an uploaded file's header, DDL) and literals inside table functions. Everything else binds
// parameters ({name:Type}).

/** A backquoted identifier: any name, quotes and backslashes included, stays one identifier. */
export const ident = (name: string) => '`' + name.replaceAll('\\', '\\\\').replaceAll('`', '\\`') + '`';

/** A single-quoted string literal. */
export const literal = (s: string) => "'" + s.replaceAll('\\', '\\\\').replaceAll("'", "\\'") + "'";
