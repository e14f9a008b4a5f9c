/**
 * RFC 4180 CSV records (comma-separated, `"` quoting with `""` inside, quoted line breaks, CRLF or
 * LF) as datasets read them: an empty unquoted field is null, a quoted `""` the empty string. For
 * text already in memory (a header line, a small file of rows); data files are read by DuckDB.
 */
import { invalidParam } from './errors.ts';

/** One record and the line it starts on (1-based). */
export interface CsvRecord {
  readonly fields: readonly (string | null)[];
  readonly line: number;
}

/** Splits `text` into records, skipping blank lines; an unterminated quoted value is an error naming its line. */
export function parseCsv(text: string, field = 'file'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: (string | null)[] = [];
  let value = '';
  let quoted = false;
  let inQuotes = false;
  let line = 1;
  let start = 1;
  const endField = () => {
    fields.push(quoted || value !== '' ? value : null);
    value = '';
    quoted = false;
  };
  const endRecord = () => {
    endField();
    if (fields.length > 1 || fields[0] !== null) records.push({ fields, line: start });
    fields = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"' && text[i + 1] === '"') {
        value += '"';
        i++;
      } else if (ch === '"') inQuotes = false;
      else {
        if (ch === '\n') line++;
        value += ch;
      }
    } else if (ch === '"' && value === '' && !quoted) {
      inQuotes = true;
      quoted = true;
    } else if (ch === ',') endField();
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else value += ch;
  }
  if (inQuotes) throw invalidParam(field, `unterminated quoted value starting at line ${start}`);
  endRecord();
  return records;
}
