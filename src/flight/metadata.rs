//! What clients ask before they query: SqlInfo (JDBC drivers build their DatabaseMetaData
//! from it and fail on missing values), XDBC type info, catalogs, schemas, tables (with their
//! Arrow schemas) and table types. Results are built with arrow-flight's builders so their
//! schemas are exactly the ones the Flight SQL spec fixes.
//!
//! To advertise another SqlInfo value: append it in [`sql_info`].

use std::collections::BTreeSet;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, Nullable,
    Searchable, SqlInfo, SqlNullOrdering, SqlSupportedCaseSensitivity, SqlSupportedTransaction,
    SupportedSqlGrammar, XdbcDataType, XdbcDatetimeSubcode,
};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use tonic::Status;

/// The table types ecomsql reports.
pub const TABLE_TYPES: [&str; 3] = ["TABLE", "VIEW", "LOCAL TEMPORARY"];

fn table_type_name(t: TableType) -> &'static str {
    match t {
        TableType::Base => TABLE_TYPES[0],
        TableType::View => TABLE_TYPES[1],
        TableType::Temporary => TABLE_TYPES[2],
    }
}

fn arrow_status(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("building metadata: {e}"))
}

/// The server's SqlInfo, with the function lists of `ctx` (ecomsql's functions included).
pub fn sql_info(ctx: &SessionContext, statement_timeout_secs: i32) -> Result<SqlInfoData, Status> {
    let state = ctx.state();
    let (mut numeric, mut string, mut datetime, mut system) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for (name, udf) in state.scalar_functions() {
        let section = udf
            .documentation()
            .map(|d| d.doc_section.label)
            .unwrap_or("");
        let list = if section.contains("Math") {
            &mut numeric
        } else if section.contains("String") || section.contains("Regular Expression") {
            &mut string
        } else if section.contains("Time and Date") {
            &mut datetime
        } else {
            &mut system
        };
        list.insert(name.clone());
    }
    let list = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "ecomsql");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    // The Arrow IPC format version (Schema.fbs MetadataVersion V5 is format 1.3+).
    b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
    b.append(SqlInfo::FlightSqlServerReadOnly, false);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    // Queries stop when the client drops the stream; the CancelQuery action is not served.
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(
        SqlInfo::FlightSqlServerStatementTimeout,
        statement_timeout_secs,
    );
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, false);
    b.append(SqlInfo::SqlDdlTable, true);
    b.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityCaseInsensitive as i32,
    );
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.append(
        SqlInfo::SqlKeywords,
        ALL_KEYWORDS
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>(),
    );
    b.append(SqlInfo::SqlNumericFunctions, list(numeric));
    b.append(SqlInfo::SqlStringFunctions, list(string));
    b.append(SqlInfo::SqlSystemFunctions, list(system));
    b.append(SqlInfo::SqlDatetimeFunctions, list(datetime));
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    b.append(SqlInfo::SqlSupportedGroupBy, 0b11_i32);
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(
        SqlInfo::SqlSupportedGrammar,
        1_i32 << SupportedSqlGrammar::SqlCoreGrammar as i32,
    );
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    b.append(SqlInfo::SqlSupportedUnions, 0b11_i32);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.append(SqlInfo::SqlDataDefinitionCausesTransactionCommit, false);
    b.append(SqlInfo::SqlDataDefinitionsInTransactionsIgnored, true);
    b.append(SqlInfo::SqlBatchUpdatesSupported, false);
    b.append(SqlInfo::SqlSavepointsSupported, false);
    b.append(SqlInfo::SqlNamedParametersSupported, false);
    b.append(SqlInfo::SqlLocatorsUpdateCopy, false);
    b.append(SqlInfo::SqlStoredFunctionsUsingCallSyntaxSupported, false);
    b.build().map_err(arrow_status)
}

fn xdbc(
    name: &str,
    data_type: XdbcDataType,
    column_size: Option<i32>,
    literal: Option<(&str, &str)>,
    radix: Option<i32>,
    subcode: Option<XdbcDatetimeSubcode>,
) -> XdbcTypeInfo {
    let sql_data_type = match data_type {
        XdbcDataType::XdbcDate | XdbcDataType::XdbcTime | XdbcDataType::XdbcTimestamp => {
            XdbcDataType::XdbcDatetime
        }
        other => other,
    };
    XdbcTypeInfo {
        type_name: name.to_string(),
        data_type,
        column_size,
        literal_prefix: literal.map(|l| l.0.to_string()),
        literal_suffix: literal.map(|l| l.1.to_string()),
        create_params: None,
        nullable: Nullable::NullabilityNullable,
        case_sensitive: matches!(data_type, XdbcDataType::XdbcVarchar),
        searchable: Searchable::Full,
        unsigned_attribute: radix.map(|_| false),
        fixed_prec_scale: false,
        auto_increment: radix.map(|_| false),
        local_type_name: Some(name.to_string()),
        minimum_scale: None,
        maximum_scale: None,
        sql_data_type,
        datetime_subcode: subcode,
        num_prec_radix: radix,
        interval_precision: None,
    }
}

/// The SQL types ecomsql's SQL knows, for `CommandGetXdbcTypeInfo`.
pub fn xdbc_type_info() -> Result<XdbcTypeInfoData, Status> {
    use XdbcDataType as T;
    let mut b = XdbcTypeInfoDataBuilder::new();
    let quote = Some(("'", "'"));
    for info in [
        xdbc("BOOLEAN", T::XdbcBit, Some(1), None, None, None),
        xdbc("TINYINT", T::XdbcTinyint, Some(3), None, Some(10), None),
        xdbc("SMALLINT", T::XdbcSmallint, Some(5), None, Some(10), None),
        xdbc("INTEGER", T::XdbcInteger, Some(10), None, Some(10), None),
        xdbc("BIGINT", T::XdbcBigint, Some(19), None, Some(10), None),
        xdbc("REAL", T::XdbcReal, Some(7), None, Some(2), None),
        xdbc("DOUBLE", T::XdbcDouble, Some(15), None, Some(2), None),
        xdbc("DECIMAL", T::XdbcDecimal, Some(38), None, Some(10), None),
        xdbc("VARCHAR", T::XdbcVarchar, None, quote, None, None),
        xdbc("BYTEA", T::XdbcVarbinary, None, None, None, None),
        xdbc(
            "DATE",
            T::XdbcDate,
            Some(10),
            Some(("DATE '", "'")),
            None,
            // XDBC_SUBCODE_DATE is an alias of XDBC_SUBCODE_YEAR (1) in the spec.
            Some(XdbcDatetimeSubcode::XdbcSubcodeYear),
        ),
        xdbc(
            "TIME",
            T::XdbcTime,
            Some(15),
            Some(("TIME '", "'")),
            None,
            Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
        ),
        xdbc(
            "TIMESTAMP",
            T::XdbcTimestamp,
            Some(29),
            Some(("TIMESTAMP '", "'")),
            None,
            Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
        ),
    ] {
        b.append(info);
    }
    b.build().map_err(arrow_status)
}

/// `CommandGetCatalogs`.
pub fn catalogs(ctx: &SessionContext, query: CommandGetCatalogs) -> Result<RecordBatch, Status> {
    let mut b = query.into_builder();
    for c in ctx.catalog_names() {
        b.append(c);
    }
    b.build().map_err(arrow_status)
}

/// `CommandGetDbSchemas` (the builder applies the catalog and pattern filters).
pub fn schemas(ctx: &SessionContext, query: CommandGetDbSchemas) -> Result<RecordBatch, Status> {
    let mut b = query.into_builder();
    for c in ctx.catalog_names() {
        if let Some(catalog) = ctx.catalog(&c) {
            for s in catalog.schema_names() {
                b.append(&c, s);
            }
        }
    }
    b.build().map_err(arrow_status)
}

/// `CommandGetTables`, with each table's Arrow schema when asked for.
pub async fn tables(ctx: &SessionContext, query: CommandGetTables) -> Result<RecordBatch, Status> {
    let mut b = query.into_builder();
    for c in ctx.catalog_names() {
        let Some(catalog) = ctx.catalog(&c) else {
            continue;
        };
        for s in catalog.schema_names() {
            let Some(schema) = catalog.schema(&s) else {
                continue;
            };
            for t in schema.table_names() {
                let table = schema
                    .table(&t)
                    .await
                    .map_err(|e| super::errors::to_status(&e))?;
                if let Some(table) = table {
                    b.append(
                        &c,
                        &s,
                        &t,
                        table_type_name(table.table_type()),
                        &crate::plain_types::plain_schema(&table.schema()),
                    )
                    .map_err(arrow_status)?;
                }
            }
        }
    }
    b.build().map_err(arrow_status)
}

/// The result schema of `CommandGetPrimaryKeys` (Flight SQL spec). ecomsql tables declare no
/// keys, so the answer is always empty — but JDBC tools (DBeaver) ask, and an empty answer
/// beats an error in their key tabs.
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The result schema of `CommandGetExportedKeys`, `CommandGetImportedKeys` and
/// `CommandGetCrossReference` (Flight SQL spec); always empty, as for primary keys.
pub fn foreign_keys_schema() -> SchemaRef {
    let utf8 = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        utf8("pk_catalog_name", true),
        utf8("pk_db_schema_name", true),
        utf8("pk_table_name", false),
        utf8("pk_column_name", false),
        utf8("fk_catalog_name", true),
        utf8("fk_db_schema_name", true),
        utf8("fk_table_name", false),
        utf8("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        utf8("fk_key_name", true),
        utf8("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}

/// `CommandGetTableTypes`.
pub fn table_types(query: CommandGetTableTypes) -> Result<RecordBatch, Status> {
    let mut b = query.into_builder();
    for t in TABLE_TYPES {
        b.append(t);
    }
    b.build().map_err(arrow_status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_info_has_what_jdbc_reads() {
        let ctx = SessionContext::new();
        let info = sql_info(&ctx, 0).unwrap();
        let batch = info
            .record_batch([
                SqlInfo::FlightSqlServerName as u32,
                SqlInfo::SqlIdentifierQuoteChar as u32,
                SqlInfo::SqlKeywords as u32,
                SqlInfo::SqlNumericFunctions as u32,
                SqlInfo::SqlStringFunctions as u32,
            ])
            .unwrap();
        assert_eq!(batch.num_rows(), 5);
        assert!(
            xdbc_type_info()
                .unwrap()
                .record_batch(None)
                .unwrap()
                .num_rows()
                >= 10
        );
    }
}
