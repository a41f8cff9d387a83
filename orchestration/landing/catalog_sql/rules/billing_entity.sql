-- The rules of billing_entity.csv (docs/inputs.md). {document_languages} and
-- {document_locale_pattern} are the languages invoice_render.i18n renders documents in.

-- rule: exactly one billing entity row is required
select min(line_number)
from raw.catalog_billing_entity
having count(*) <> 1

-- rule: document_numbering must be per_customer or per_organization
select line_number
from raw.catalog_billing_entity
where document_numbering is not null
    and document_numbering not in ('per_customer', 'per_organization')

-- rule: net_payment_term must be a whole number of days from 0 to 9999
select line_number
from raw.catalog_billing_entity
where net_payment_term is not null
    and not regexp_full_match(net_payment_term, '[0-9]{1,4}')

-- rule: document_locale must be one of {document_languages}, optionally with a country (fr_CH,
--   de-AT)
select line_number
from raw.catalog_billing_entity
where document_locale is not null
    and not regexp_full_match(document_locale, '{document_locale_pattern}', 'i')

-- rule: timezone must be an IANA name
select line_number
from raw.catalog_billing_entity
where timezone is not null
    and timezone not in (select name from catalog_timezones)
