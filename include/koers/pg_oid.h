/* PostgreSQL type OIDs (pg_type.dat) that koers' programs format or bind specially; libpq's
 * client headers do not carry them. */
#ifndef KOERS_PG_OID_H
#define KOERS_PG_OID_H

#define KOERS_OID_BOOL 16
#define KOERS_OID_INT8 20
#define KOERS_OID_INT2 21
#define KOERS_OID_INT4 23
#define KOERS_OID_TEXT 25
#define KOERS_OID_FLOAT4 700
#define KOERS_OID_FLOAT8 701
#define KOERS_OID_DATE 1082
#define KOERS_OID_NUMERIC 1700
#define KOERS_OID_JSONB 3802

#endif
