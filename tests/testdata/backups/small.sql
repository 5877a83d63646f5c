--
-- PostgreSQL database dump
--

\restrict 8qxDGooesaPZCpnLlXy0aw31zWkyTJuI3DaBlq99JblD7hCwysze6sro6BISjNv

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: assets; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.assets (
    id integer NOT NULL,
    name text NOT NULL
);


ALTER TABLE public.assets OWNER TO postgres;

--
-- Name: tags; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.tags (
    asset integer,
    tag text
);


ALTER TABLE public.tags OWNER TO postgres;

--
-- Name: 16420; Type: BLOB; Schema: -; Owner: postgres
--

SELECT pg_catalog.lo_create('16420');


ALTER LARGE OBJECT 16420 OWNER TO postgres;

--
-- Data for Name: assets; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.assets (id, name) FROM stdin;
1	laptop
2	monitor
3	desk
\.


--
-- Data for Name: tags; Type: TABLE DATA; Schema: public; Owner: postgres
--

COPY public.tags (asset, tag) FROM stdin;
1	it
\.


--
-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -
--

BEGIN;

SELECT pg_catalog.lo_open('16420', 131072);
SELECT pg_catalog.lowrite(0, '\x696e766f696365207363616e');
SELECT pg_catalog.lo_close(0);

COMMIT;

--
-- Name: assets assets_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.assets
    ADD CONSTRAINT assets_pkey PRIMARY KEY (id);


--
-- Name: tags tags_asset_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.tags
    ADD CONSTRAINT tags_asset_fkey FOREIGN KEY (asset) REFERENCES public.assets(id);


--
-- PostgreSQL database dump complete
--

\unrestrict 8qxDGooesaPZCpnLlXy0aw31zWkyTJuI3DaBlq99JblD7hCwysze6sro6BISjNv

